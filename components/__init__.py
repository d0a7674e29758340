"""Reusable Pulumi components for AWS. Import only the standard library, pulumi and pulumi_aws."""
