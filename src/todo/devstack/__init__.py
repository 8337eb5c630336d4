"""Development-stack helpers: real servers (Kafka) started from code for dev runs and tests."""
