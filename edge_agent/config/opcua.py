"""What the OPC UA sink and trigger share in the line YAML: the server endpoint, its security and the user.

Secrets never live in the YAML: ``password_env`` names the environment variable that holds the password.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, model_validator

from edge_agent.config.common import _Cfg

NodeId = Annotated[
    str,
    Field(
        min_length=3,
        max_length=512,
        pattern=r"^((ns=\d+|nsu=[^;]+);)?[isgb]=.+$",
        description="An OPC UA node id as the PLC's tools show it, e.g. ns=2;s=Line1.Reject.Verdict.",
    ),
]


class OpcUaSecurity(_Cfg):
    """``policy: None`` (no signing, no encryption), or Basic256Sha256 with a client certificate and key."""

    policy: Literal["None", "Basic256Sha256"] = "None"
    mode: Literal["None", "Sign", "SignAndEncrypt"] = "None"
    certificate: Path | None = Field(None, description="The client's X.509 certificate (DER or PEM).")
    private_key: Path | None = Field(None, description="The client's private key (PEM or DER, unencrypted).")
    server_certificate: Path | None = Field(
        None, description="Pin the PLC's certificate; default: the one the server offers (trust on use)."
    )
    application_uri: str | None = Field(
        None, description="The client's application URI; default: the URI in the certificate's SAN."
    )

    @model_validator(mode="after")
    def _check(self) -> OpcUaSecurity:
        if self.policy == "None":
            if self.mode != "None":
                raise ValueError(
                    f"mode {self.mode} needs a policy (Basic256Sha256); policy None has mode None"
                )
            if self.certificate or self.private_key or self.server_certificate:
                raise ValueError("certificates are only used with policy Basic256Sha256")
            return self
        if self.mode == "None":
            raise ValueError(f"policy {self.policy} needs mode Sign or SignAndEncrypt")
        if self.certificate is None or self.private_key is None:
            raise ValueError(f"policy {self.policy} needs the client's certificate and private_key paths")
        return self


class OpcUaEndpoint(_Cfg):
    """The connection part of ``type: opcua`` sinks and triggers."""

    endpoint: str = Field(pattern=r"^opc\.tcp://[^/\s]+", description="opc.tcp://host:port[/path]")
    security: OpcUaSecurity = OpcUaSecurity()
    username: str | None = Field(None, min_length=1, max_length=256)
    password_env: str | None = Field(
        None,
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="Name of the environment variable holding the password (never the password itself).",
    )

    @model_validator(mode="after")
    def _user(self) -> OpcUaEndpoint:
        if (self.username is None) != (self.password_env is None):
            raise ValueError(
                "username and password_env go together (password_env names the environment variable "
                "with the password, e.g. FACTORYLOOP_OPCUA_PASSWORD)"
            )
        return self


class OpcUaSinkNodes(_Cfg):
    """Where the sink writes one reject record; ``seq`` and/or ``strobe`` are written last (complete)."""

    verdict: NodeId = Field(
        description="String: PASS/FAIL/UNCERTAIN; integer: verdict_codes; Boolean: not PASS."
    )
    part_id: NodeId | None = Field(None, description="String, or an integer type for numeric part ids.")
    classes: NodeId | None = Field(None, description="String (joined) or a String array.")
    seq: NodeId | None = Field(
        None, description="Integer: +1 per record (wraps to 1), continued from the PLC's value."
    )
    strobe: NodeId | None = Field(
        None, description="Boolean: set True last; the PLC resets it after reading."
    )

    @model_validator(mode="after")
    def _complete(self) -> OpcUaSinkNodes:
        if self.seq is None and self.strobe is None:
            raise ValueError(
                "nodes needs seq (a counter) or strobe (a Boolean), written last so the PLC knows a record "
                "is complete"
            )
        ids = [v for v in self.model_dump().values() if v is not None]
        if len(set(ids)) != len(ids):
            raise ValueError(f"nodes must be distinct, got {ids}")
        return self


class OpcUaVerdictCodes(_Cfg):
    """The numbers written to an integer verdict node."""

    PASS: int = 0
    FAIL: int = 1
    UNCERTAIN: int = 2


class OpcUaTriggerNodes(_Cfg):
    """What the trigger reads: a part-present bit (rising edge = one part), optional id, encoder and ack."""

    part_present: NodeId = Field(description="Boolean (or integer: nonzero = present).")
    part_id: NodeId | None = Field(
        None, description="Read at the edge: String or integer. Else ids are made."
    )
    encoder: NodeId | None = Field(
        None, description="Read at the edge: the conveyor encoder count (integer)."
    )
    ack: NodeId | None = Field(
        None,
        description="Boolean the trigger sets True after reading a part and False after its falling edge.",
    )

    @model_validator(mode="after")
    def _distinct(self) -> OpcUaTriggerNodes:
        ids = [v for v in self.model_dump().values() if v is not None]
        if len(set(ids)) != len(ids):
            raise ValueError(f"nodes must be distinct, got {ids}")
        return self
