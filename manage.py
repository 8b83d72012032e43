#!/usr/bin/env python
import os
import sys


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")
    # manage.py is the developer's entry point: development mode unless DEBUG is set. The
    # production entry points (wsgi, asgi, the Celery app) default to DEBUG off and need
    # SECRET_KEY; docker-compose sets DEBUG=false for its manage.py commands too.
    os.environ.setdefault("DEBUG", "true")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
