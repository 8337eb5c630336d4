from integration.servers import backend, kafka, postgres_db

__all__ = ["backend", "kafka", "postgres_db"]
