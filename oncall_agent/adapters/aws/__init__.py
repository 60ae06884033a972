"""AWS adapters over boto3 (endpoint_url override for the sandbox)."""
