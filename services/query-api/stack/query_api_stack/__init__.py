"""Pulumi component and stack of query-api"""
