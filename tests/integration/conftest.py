from integration.servers import backend, kafka

from todo.backend.conftest import postgres_url

__all__ = ["backend", "kafka", "postgres_url"]
