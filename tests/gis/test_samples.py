"""The bundled sample layers: reproducible from their generator, valid, labelled as samples."""

from __future__ import annotations

import json

import pytest

from gis import loaders, samples
from gis.divisions import Division
from gis.layers import parse_layer


@pytest.fixture(scope="module")
def generated(bundled_divisions: list[Division]) -> dict[str, dict[str, object]]:
    return samples.build(bundled_divisions)


def test_bundled_files_are_what_the_generator_makes(
    generated: dict[str, dict[str, object]],
) -> None:
    for name, collection in generated.items():
        path = loaders.SAMPLES / f"hebei_{name}.geojson"
        assert json.loads(path.read_text(encoding="utf-8")) == json.loads(json.dumps(collection))


def test_every_layer_validates_and_is_labelled(generated: dict[str, dict[str, object]]) -> None:
    for name, collection in generated.items():
        assert "sample data" in str(collection["note"])
        features = collection["features"]
        assert isinstance(features, list) and features
        for feature in features:
            props = feature["properties"]
            assert props["sample"] is True or props.get("warning_level_real") is True
        if name != "units":
            assert len(parse_layer(name, collection, source=name)) == len(features)


def test_units_sit_at_real_towns_and_are_named_from_our_divisions(
    generated: dict[str, dict[str, object]], bundled_divisions: list[Division]
) -> None:
    towns = samples.places_in(bundled_divisions)
    assert len(towns) == 16
    units = generated["units"]["features"]
    assert isinstance(units, list)
    names = " ".join(f["properties"]["name"] for f in units)
    assert "Shijianzhuang" not in names and "石家庄市消防车1号" in names
    assert {t["county"] for t in towns} >= {"竞秀区", "海港区"}
