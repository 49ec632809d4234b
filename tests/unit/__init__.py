"""Unit tests: no network, no AWS, no local stack."""
