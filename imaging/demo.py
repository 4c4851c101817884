"""Demo step of the imaging app: list which default models are ready and which still need `make models`."""

from .selectors import default_model_status


def seed() -> list[tuple[str, str]]:
    print("Imaging models:")
    for row in default_model_status():
        marker = "default " if row["default"] else ""
        print(f"  {row['name']:40} {marker}{row['status']}")
    return []
