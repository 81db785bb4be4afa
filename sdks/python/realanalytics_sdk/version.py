"""The package version, sent in the User-Agent."""

VERSION = "0.2.0"
