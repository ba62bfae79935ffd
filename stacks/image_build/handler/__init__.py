"""Lambda code of the image-build custom resource (runs in Lambda, not in the CDK app)."""
