# One image for every process: web (gunicorn), worker and beat.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=chainscan.settings \
    DEBUG=false

RUN groupadd --system chainscan && useradd --system --gid chainscan --home-dir /app chainscan
WORKDIR /app

COPY pyproject.toml README.md constraints.txt ./
COPY chainscan ./chainscan
COPY scans ./scans
RUN pip install -c constraints.txt .

COPY manage.py ./
COPY templates ./templates
COPY static ./static
# Static files are baked into the image (served by WhiteNoise). collectstatic
# needs settings but no secrets: a throwaway key, DEBUG off.
RUN DEBUG=false SECRET_KEY=collectstatic-only-not-a-real-key-0123456789abcdef \
    python manage.py collectstatic --noinput \
    && mkdir -p /app/var && chown -R chainscan:chainscan /app/var

USER chainscan
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status == 200 else 1)"
CMD ["gunicorn", "chainscan.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
