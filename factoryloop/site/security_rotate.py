"""Rotate a role's SCRAM password: a new random one in the cluster (as the site's admin) and in the role's
env file, which is replaced only once the brokers took the new password.

Connected clients keep their sessions; each picks the new password up when its service restarts with the new
env file (copy it to the role's machines first). Between the change and the restart, reconnects fail.
"""

from __future__ import annotations

import logging
import os

from kafka.admin import ScramMechanism, UserScramCredentialUpsertion

from factoryloop.errors import ConfigError
from factoryloop.kafka.admin import admin_client
from factoryloop.site.security import Site, new_secret, write_secret
from factoryloop.stack.kafka_config import SCRAM_ITERATIONS

logger = logging.getLogger(__name__)

PASSWORD_KEY = "FACTORYLOOP_KAFKA_SASL_PASSWORD"


def rotate_password(site: Site, role: str) -> None:
    """Give ``role``'s principal a new password on the brokers and in ``env/<role>.env``."""
    path = site.env_file(role)
    user = site.user(role).name
    admin = site.kafka_settings("admin")  # read before an admin rotation changes the file
    password = new_secret()
    lines = [
        f"{PASSWORD_KEY}={password}" if ln.startswith(f"{PASSWORD_KEY}=") else ln
        for ln in path.read_text().splitlines()
    ]
    staged = path.with_name(path.name + ".new")
    staged.unlink(missing_ok=True)
    write_secret(staged, "\n".join(lines) + "\n")
    try:
        client = admin_client(admin)
        try:
            upsert = UserScramCredentialUpsertion(
                user, ScramMechanism.SCRAM_SHA_512, password, iterations=SCRAM_ITERATIONS
            )
            errors = {u: e for u, e in client.alter_user_scram_credentials([upsert]).items() if e}
        finally:
            client.close()
        if errors:
            raise ConfigError(f"the brokers refused the new password of {user!r}: {errors[user]}")
    except BaseException:
        staged.unlink(missing_ok=True)
        raise
    os.replace(staged, path)
    logger.info("password of %s (role %s) rotated; restart its services with the new %s", user, role, path)
