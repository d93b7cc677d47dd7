"""AWS Lambda entry point (`handler.handler`): the EstudiApp API behind API Gateway (REST API v1 or HTTP API v2).

Only wiring lives here. The routes, validation and error mapping are estudiapp_core.api's (the same FastAPI app that
`estudiapp serve` runs), the logic is estudiapp_core.serving's. Artifacts load once per container, at import, from the
store the environment names (BUCKET_NAME and ARTIFACTS_PREFIX, or ARTIFACTS_DIR), checked against the manifest's
sha256; if that fails the function still starts, answers 503 with the reason and retries on later requests.
"""
import logging
from mangum import Mangum
from estudiapp_core.api import StagePath, create_app
from estudiapp_core.config import get_settings
from estudiapp_core.serving import Serving

settings = get_settings()
logging.getLogger().setLevel(settings.LOG_LEVEL)  # Lambda's root handler writes to CloudWatch; bodies are never logged
serving = Serving(settings=settings)
serving.try_load()
app = create_app(serving)
handler = Mangum(StagePath(app), lifespan='off')  # /docs finds /STAGE/openapi.json behind API Gateway's own URL
