"""Pulumi component and stack of command-api"""
