"""Exception base of the shared package. Each package (edge_agent, training, api) has its own base."""


class FactoryloopError(Exception):
    """Base for errors raised by the shared ``factoryloop`` package."""


class ConfigError(FactoryloopError):
    """A configuration file or setting is invalid; the message says where and what to do."""


class SchemaError(FactoryloopError):
    """A Kafka payload could not be decoded: malformed, or an unknown schema version."""


class KafkaUnavailableError(FactoryloopError):
    """The Kafka cluster could not be reached."""


class DeliveryError(FactoryloopError):
    """A record was not acknowledged by the Kafka cluster."""


class KafkaAuthError(KafkaUnavailableError):
    """The cluster refused this client's credentials or TLS handshake; the message says what to check."""


class KafkaNotAuthorizedError(DeliveryError):
    """The cluster's ACLs do not allow this client's principal to write to a topic."""
