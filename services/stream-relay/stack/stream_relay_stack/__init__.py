"""Pulumi component and stack of stream-relay"""
