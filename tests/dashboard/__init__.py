"""Tests of the browser dashboard: pure figures and tables, and real-browser tests of the pages."""
