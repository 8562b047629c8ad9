"""Pulumi component and stack of projection-balances"""
