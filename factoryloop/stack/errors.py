"""Errors of the local stack. Every message says what went wrong and what to do about it."""

from factoryloop.errors import FactoryloopError


class StackError(FactoryloopError):
    """Base for errors raised while fetching, starting or stopping the local stack."""


class ToolMissingError(StackError):
    """A required program (java, mvn, mlflow) is not installed."""


class JarsMissingError(StackError):
    """The Kafka jars have not been fetched yet."""


class PortInUseError(StackError):
    """A port the stack needs is already taken by another process."""


class ServiceStartError(StackError):
    """A service process exited or did not become ready in time; the message holds its log tail."""
