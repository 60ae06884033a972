"""Settings: the base of every section (unknown keys are errors) and the patterns sections share."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict

REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$")
TOPIC_ARN = re.compile(r"^arn:aws(-cn|-us-gov)?:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$")


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")
