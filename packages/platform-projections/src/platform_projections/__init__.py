"""Projection runtime: SQS batches to ordered, idempotent applies with gap repair."""
