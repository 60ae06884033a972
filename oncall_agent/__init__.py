"""oncall-agent: an autonomous on-call incident agent for services on AWS."""

__version__ = "0.1.0"
