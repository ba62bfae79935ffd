"""Serving image build: ECR repository, CodeBuild project and the deploy-time wait for the image."""
