"""The shipped starter eval set: every item of the hand-written demo catalog, with its picture
drawn by the project (marketplace.sample_images), the catalog's values as ground truth, and the
key attributes a good title and description should mention, chosen by hand below.

Must-pass cases are the clearest pictures (large solid objects); "hard" marks items whose
picture cannot show what the ground truth knows (condition "for parts", sealed boxes, look-alike
shapes shared by several kinds of item).
"""

from django.core.files.base import ContentFile
from django.utils.text import slugify

from marketplace.demo_catalog import CATALOG, CatalogItem
from marketplace.photos import photo_process
from marketplace.sample_images import render_item

from ..models import EvalCase
from .cases import eval_case_create

KEY_ATTRIBUTES = {
    "Bluetooth speaker": ["speaker", "bluetooth"],
    "Compact digital camera": ["camera"],
    "Wireless headphones": ["headphones"],
    "Small flat-screen TV": ["tv"],
    "Smartphone 128 GB": ["smartphone"],
    "Android phone": ["phone"],
    "10 inch tablet": ["tablet"],
    "Phone for parts": ["phone", "parts"],
    "13 inch laptop": ["laptop"],
    "Gaming laptop": ["laptop", "gaming"],
    "Old netbook": ["netbook"],
    "Ultrabook, sealed": ["ultrabook", "sealed"],
    "Ceramic coffee mug set": ["mug"],
    "Espresso cups": ["espresso", "cups"],
    "Enamel camping mug": ["enamel", "mug"],
    "Stoneware teapot mug": ["stoneware", "mug"],
    "Wooden dining chair": ["wooden", "chair"],
    "Office chair": ["office", "chair"],
    "Velvet armchair": ["armchair"],
    "Garden chair": ["garden", "chair"],
    "Cotton T-shirt, size M": ["t-shirt"],
    "Wool sweater, size L": ["sweater", "wool"],
    "Running shirt, size S": ["running", "shirt"],
    "Flannel shirt, size XL": ["flannel", "shirt"],
    "Pushchair": ["pushchair"],
    "Baby pram": ["pram"],
    "Doll's pram": ["doll", "pram"],
    "Buggy board": ["buggy board"],
    "Football, size 5": ["football"],
    "Basketball": ["basketball"],
    "Yoga ball 65 cm": ["yoga ball"],
    "Volleyball": ["volleyball"],
    "City bike 28 inch": ["city bike"],
    "Road bike": ["road bike"],
    "Kids' bike 16 inch": ["kids", "bike"],
    "Rusty bike frame": ["bike frame"],
    "Paperback novel": ["paperback", "novel"],
    "Cookbook, hardcover": ["cookbook"],
    "Encyclopedia volume": ["encyclopedia"],
    "Photo book, sealed": ["photo book"],
    "Building blocks set": ["building blocks"],
    "Wooden blocks": ["wooden blocks"],
    "Board game, sealed": ["board game"],
    "Puzzle 1000 pieces": ["puzzle"],
    "Cordless drill": ["cordless drill"],
    "Impact driver": ["impact driver"],
    "Hammer drill, faulty": ["hammer drill"],
    "Jigsaw": ["jigsaw"],
    "Moving boxes, 10 pieces": ["moving boxes"],
    "Gift box set": ["gift box"],
    "Storage crate": ["storage crate"],
    "Jewellery box": ["jewellery box"],
}
MUST_PASS_SHAPES = {"ball", "book", "drill", "blocks"}
HARD = {"for-parts"}
LOOK_ALIKE_SHAPES = {"device", "box", "stroller"}


def starter_cases_load() -> tuple[int, int]:
    """Create the starter cases that are missing; returns (created, already there).

    Existing cases are never overwritten: staff may have corrected them (with history).
    """
    created = existing = 0
    for index, item in enumerate(CATALOG):
        key = f"starter-{index + 1:03d}-{slugify(item.title)}"[:60]
        if EvalCase.objects.filter(key=key).exists():
            existing += 1
            continue
        _create(key, index, item)
        created += 1
    return created, existing


def _create(key: str, index: int, item: CatalogItem) -> EvalCase:
    photo = photo_process(ContentFile(render_item(shape=item.shape, color=item.color, seed=index)))
    return eval_case_create(
        key=key,
        image=photo.display,
        values={
            "title": item.title,
            "description": item.description,
            "category": item.category,
            "condition": item.condition,
            "brand": item.brand,
            "color": item.color,
            "price_eur": item.price_eur,
        },
        key_attributes=KEY_ATTRIBUTES[item.title],
        tags=_tags(item),
        must_pass=item.shape in MUST_PASS_SHAPES and _is_first_of_its_shape(index, item),
        source=EvalCase.Source.STARTER,
    )


def _tags(item: CatalogItem) -> list[str]:
    tags = [item.category, "starter"]
    if item.condition in HARD or item.shape in LOOK_ALIKE_SHAPES or "sealed" in item.title:
        tags.append("hard")
    return tags


def _is_first_of_its_shape(index: int, item: CatalogItem) -> bool:
    """One must-pass case per clear shape: the first catalog item drawn with it."""
    return next(i for i, other in enumerate(CATALOG) if other.shape == item.shape) == index
