"""The local runtime: Telltale on one machine with no AWS account and no Docker.

It runs the same handlers as the deployment, behind a gateway that reads ``template.yaml``; see
DESIGN.md, "Two ways to run, one code path".
"""
