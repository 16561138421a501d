"""Tests of app.sandbox."""
