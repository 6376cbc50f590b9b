"""The small kustomize renderer does what kustomize does for the subset it supports, and
refuses the rest."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
import yaml
from kustomize import KustomizeError, build, image_name, strategic_merge

DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web"},
    "spec": {
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {
                "containers": [
                    {
                        "name": "web",
                        "image": "coupon/web:1",
                        "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                    },
                    {"name": "side", "image": "other/side@sha256:abc"},
                ]
            },
        },
    },
}


def _write(directory: Path, files: dict[str, object]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        if isinstance(content, str):
            text = content
        elif isinstance(content, list):
            text = yaml.safe_dump_all(content)
        else:
            text = yaml.safe_dump(content)
        (directory / name).write_text(text)
    return directory


def test_merge_keeps_what_the_patch_does_not_name() -> None:
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {"name": "web", "env": [{"name": "B", "value": "3"}, {"name": "C"}]}
                    ]
                }
            }
        }
    }
    merged = strategic_merge(DEPLOYMENT, patch)
    web, side = merged["spec"]["template"]["spec"]["containers"]
    assert web["image"] == "coupon/web:1"
    assert web["env"] == [{"name": "A", "value": "1"}, {"name": "B", "value": "3"}, {"name": "C"}]
    assert side == DEPLOYMENT["spec"]["template"]["spec"]["containers"][1]  # type: ignore[index]
    assert DEPLOYMENT["spec"]["template"]["spec"]["containers"][0]["env"][1]["value"] == "2"  # type: ignore[index]


def test_lists_without_a_merge_key_are_replaced_and_null_deletes() -> None:
    merged = strategic_merge({"a": [1, 2], "b": 1, "c": {"d": 1}}, {"a": [3], "b": None})
    assert merged == {"a": [3], "c": {"d": 1}}


@pytest.mark.parametrize(
    ("reference", "name"),
    [
        ("coupon/web", "coupon/web"),
        ("coupon/web:1.2", "coupon/web"),
        ("host:5000/coupon/web:1.2", "host:5000/coupon/web"),
        ("coupon/web@sha256:abc", "coupon/web"),
    ],
)
def test_image_names(reference: str, name: str) -> None:
    assert image_name(reference) == name


def test_overlay_on_a_base(tmp_path: Path) -> None:
    base = _write(
        tmp_path / "base",
        {
            "kustomization.yaml": {"resources": ["web.yaml"]},
            "web.yaml": [
                DEPLOYMENT,
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}},
            ],
        },
    )
    overlay = _write(
        tmp_path / "overlay",
        {
            "kustomization.yaml": {
                "namespace": "prod",
                "resources": ["../base"],
                "labels": [{"pairs": {"team": "coupons"}, "includeTemplates": True}],
                "images": [
                    {"name": "coupon/web", "newTag": "2"},
                    {"name": "other/side", "newName": "mirror/side"},
                ],
                "patches": [
                    {"path": "replicas.yaml"},
                    {
                        "patch": "spec:\n  template:\n    spec:\n      priorityClassName: high\n",
                        "target": {"kind": "Deployment"},
                    },
                ],
                "generatorOptions": {"disableNameSuffixHash": True},
                "secretGenerator": [{"name": "s", "literals": ["K=v=1"], "envs": ["s.env"]}],
                "configMapGenerator": [{"name": "c", "literals": ["X=1"]}],
            },
            "replicas.yaml": {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "web"},
                "spec": {"replicas": 3},
            },
            "s.env": "# comment\nE=2\n",
        },
    )
    assert base.is_dir()
    objects = {obj["kind"]: obj for obj in build(overlay)}
    web = objects["Deployment"]
    assert web["metadata"]["namespace"] == "prod"
    assert "namespace" not in objects["Namespace"]["metadata"]
    assert web["metadata"]["labels"] == {"team": "coupons"}
    assert web["spec"]["template"]["metadata"]["labels"] == {"app": "web", "team": "coupons"}
    assert web["spec"]["selector"] == {"matchLabels": {"app": "web"}}
    assert web["spec"]["replicas"] == 3
    assert web["spec"]["template"]["spec"]["priorityClassName"] == "high"
    images = [c["image"] for c in web["spec"]["template"]["spec"]["containers"]]
    assert images == ["coupon/web:2", "mirror/side@sha256:abc"]
    secret = objects["Secret"]
    assert {k: base64.b64decode(v).decode() for k, v in secret["data"].items()} == {
        "E": "2",
        "K": "v=1",
    }
    assert objects["ConfigMap"]["data"] == {"X": "1"}


@pytest.mark.parametrize(
    ("kustomization", "message"),
    [
        ({"namePrefix": "x-"}, "unsupported kustomization fields"),
        ({"secretGenerator": [{"name": "s", "literals": ["A=1"]}]}, "disableNameSuffixHash"),
        ({"labels": [{"pairs": {"a": "b"}, "includeSelectors": True}]}, "includeSelectors"),
        ({"resources": ["a.yaml", "a.yaml"]}, "defined twice"),
        ({"resources": ["a.yaml"], "patches": [{"path": "p.yaml"}]}, "matches no object"),
        ({"resources": ["a.yaml"], "patches": [{"path": "two.yaml"}]}, "exactly one document"),
    ],
)
def test_what_is_not_supported_is_refused(
    tmp_path: Path, kustomization: dict[str, object], message: str
) -> None:
    _write(
        tmp_path,
        {
            "kustomization.yaml": kustomization,
            "a.yaml": DEPLOYMENT,
            "p.yaml": {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "nope"}},
            "two.yaml": [DEPLOYMENT, DEPLOYMENT],
        },
    )
    with pytest.raises(KustomizeError, match=message):
        build(tmp_path)
