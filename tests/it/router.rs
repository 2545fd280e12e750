//! Integration tests: the router (written with the router issue).
