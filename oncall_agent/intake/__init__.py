"""Alarm intake: parsing, SNS verification, webhook handling, polling, dedup and grouping."""
