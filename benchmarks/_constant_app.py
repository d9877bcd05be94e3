"""The ceiling: a FastAPI endpoint that parses the same JSON body and returns a constant."""

from typing import Any

from fastapi import FastAPI

app = FastAPI()
ANSWER = {"request_id": "00000000-0000-0000-0000-000000000000", "variant": "A", "prediction": 0}


@app.post("/predict")
async def predict(body: dict[str, Any]) -> dict[str, Any]:
    return ANSWER
