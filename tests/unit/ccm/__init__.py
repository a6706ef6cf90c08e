"""Tests of ccm, the membership daemon."""
