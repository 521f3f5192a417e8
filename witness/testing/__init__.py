"""Test helpers shared by every app's tests (factories, browser launch). Not shipped logic."""
