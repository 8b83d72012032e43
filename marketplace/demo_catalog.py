"""A hand-written catalog of second-hand items, one picture each (marketplace.sample_images).

Used for demo data now and usable as ground truth later: every item knows its category,
condition, brand, colour and a fair price.
"""

from dataclasses import dataclass
from decimal import Decimal

from .taxonomy import Category as C
from .taxonomy import Condition as K


@dataclass(frozen=True)
class CatalogItem:
    title: str
    description: str
    category: str
    condition: str
    brand: str
    color: str
    price_eur: Decimal
    shape: str


def _item(title, description, category, condition, brand, color, price, shape) -> CatalogItem:
    return CatalogItem(
        title, description, category.value, condition.value, brand, color, Decimal(price), shape
    )


# fmt: off
CATALOG = [
    _item('Bluetooth speaker', 'Portable speaker, 12 h battery, charges over USB-C. Minor scuffs on the base.', C.ELECTRONICS, K.GOOD, 'JBL', 'blue', "35", 'speaker'),
    _item('Compact digital camera', '20 MP, 10x zoom, with charger and 16 GB card. Screen has no scratches.', C.ELECTRONICS, K.LIKE_NEW, 'Canon', 'black', "120", 'camera'),
    _item('Wireless headphones', 'Over-ear, noise cancelling, case included. Ear pads slightly worn.', C.ELECTRONICS, K.GOOD, 'Sony', 'silver', "90", 'headphones'),
    _item('Small flat-screen TV', '32 inch, HD ready, remote included. Picture is fine, one stand foot glued.', C.ELECTRONICS, K.FAIR, 'Philips', 'black', "60", 'tv'),
    _item('Smartphone 128 GB', 'Unlocked, battery health 89 %, always in a case. Box and cable included.', C.PHONES, K.GOOD, 'Apple', 'black', "340", 'phone'),
    _item('Android phone', '64 GB, dual SIM, a small crack in the corner of the screen, works perfectly.', C.PHONES, K.FAIR, 'Samsung', 'blue', "95", 'phone'),
    _item('10 inch tablet', 'Wi-Fi, 32 GB, with flip cover. Used by an adult for reading only.', C.PHONES, K.LIKE_NEW, 'Lenovo', 'grey', "110", 'tablet'),
    _item('Phone for parts', 'Does not switch on after water damage. Screen intact, good for spare parts.', C.PHONES, K.FOR_PARTS, 'Xiaomi', 'green', "15", 'phone'),
    _item('13 inch laptop', '8 GB RAM, 256 GB SSD, new battery last year. Keyboard with German layout.', C.COMPUTERS, K.GOOD, 'Dell', 'silver', "380", 'laptop'),
    _item('Gaming laptop', 'RTX graphics, 16 GB RAM, 1 TB SSD. Fans cleaned, runs cool.', C.COMPUTERS, K.LIKE_NEW, 'Asus', 'black', "850", 'laptop'),
    _item('Old netbook', 'Boots but the battery holds ten minutes. Fine for spare parts or a retro project.', C.COMPUTERS, K.FOR_PARTS, 'Acer', 'white', "25", 'laptop'),
    _item('Ultrabook, sealed', 'Brand new, unopened, unwanted gift. Receipt available.', C.COMPUTERS, K.NEW, 'HP', 'silver', "699", 'laptop'),
    _item('Ceramic coffee mug set', 'Set of four large mugs, dishwasher safe. One has a tiny chip on the rim.', C.HOME, K.GOOD, 'IKEA', 'white', "12", 'mug'),
    _item('Espresso cups', 'Six cups with saucers, never used, still in the box.', C.HOME, K.NEW, 'Bialetti', 'red', "25", 'mug'),
    _item('Enamel camping mug', 'Classic enamel mug, some chips in the enamel, still watertight.', C.HOME, K.FAIR, '', 'blue', "4", 'mug'),
    _item('Stoneware teapot mug', 'Handmade stoneware, 400 ml, smoke-free home.', C.HOME, K.LIKE_NEW, '', 'green', "18", 'mug'),
    _item('Wooden dining chair', 'Solid oak, sturdy, light scratches on the seat. Two more available.', C.FURNITURE, K.GOOD, '', 'brown', "30", 'chair'),
    _item('Office chair', 'Adjustable height and armrests, mesh back. Gas lift works.', C.FURNITURE, K.GOOD, 'IKEA', 'black', "45", 'chair'),
    _item('Velvet armchair', 'Comfortable armchair, bought last year, pet-free home.', C.FURNITURE, K.LIKE_NEW, '', 'green', "150", 'chair'),
    _item('Garden chair', 'Plastic stacking chair, faded by the sun, one leg repaired.', C.FURNITURE, K.FAIR, '', 'white', "5", 'chair'),
    _item('Cotton T-shirt, size M', 'Plain crew-neck tee, washed a few times, no stains.', C.FASHION, K.LIKE_NEW, 'Uniqlo', 'white', "6", 'shirt'),
    _item('Wool sweater, size L', 'Warm merino wool, small pilling under the arms.', C.FASHION, K.GOOD, 'COS', 'grey', "28", 'shirt'),
    _item('Running shirt, size S', 'Breathable running top, new with tags.', C.FASHION, K.NEW, 'Nike', 'orange', "20", 'shirt'),
    _item('Flannel shirt, size XL', 'Checked flannel shirt, faded colour, one button replaced.', C.FASHION, K.FAIR, "Levi's", 'red', "9", 'shirt'),
    _item('Pushchair', 'Foldable pushchair with rain cover, wheels recently replaced.', C.KIDS, K.GOOD, 'Joie', 'grey', "70", 'stroller'),
    _item('Baby pram', 'Pram with carrycot and seat unit, used for one child.', C.KIDS, K.LIKE_NEW, 'Bugaboo', 'black', "320", 'stroller'),
    _item("Doll's pram", 'Toy pram for dolls, one wheel wobbles.', C.KIDS, K.FAIR, '', 'pink', "10", 'stroller'),
    _item('Buggy board', 'Ride-on board for a sibling, new in box.', C.KIDS, K.NEW, 'Lascal', 'blue', "35", 'stroller'),
    _item('Football, size 5', 'Match ball, used for one season, holds air well.', C.SPORTS, K.GOOD, 'Adidas', 'white', "15", 'ball'),
    _item('Basketball', 'Indoor/outdoor basketball, grip still good.', C.SPORTS, K.GOOD, 'Spalding', 'orange', "12", 'ball'),
    _item('Yoga ball 65 cm', 'Exercise ball with pump, never inflated.', C.SPORTS, K.NEW, 'Decathlon', 'purple', "10", 'ball'),
    _item('Volleyball', 'Soft-touch volleyball, a bit dirty from the beach.', C.SPORTS, K.FAIR, 'Mikasa', 'yellow', "8", 'ball'),
    _item('City bike 28 inch', '7 gears, lights and rack, serviced in spring. Frame 54 cm.', C.BIKES, K.GOOD, 'Gazelle', 'black', "260", 'bike'),
    _item('Road bike', 'Aluminium frame, Shimano 105, 56 cm. Some paint chips.', C.BIKES, K.GOOD, 'Cube', 'red', "480", 'bike'),
    _item("Kids' bike 16 inch", 'With stabilisers, for ages 4 to 6. Outgrown.', C.BIKES, K.LIKE_NEW, 'Puky', 'blue', "85", 'bike'),
    _item('Rusty bike frame', 'Frame and wheels only, brakes missing. For a project.', C.BIKES, K.FOR_PARTS, '', 'green', "20", 'bike'),
    _item('Paperback novel', 'Read once, spine unbroken.', C.MEDIA, K.LIKE_NEW, 'Penguin', 'orange', "4", 'book'),
    _item('Cookbook, hardcover', 'Italian recipes, a few splashes on some pages.', C.MEDIA, K.GOOD, '', 'red', "8", 'book'),
    _item('Encyclopedia volume', 'Old reference volume, yellowed pages, cover worn.', C.MEDIA, K.FAIR, 'Brockhaus', 'brown', "3", 'book'),
    _item('Photo book, sealed', 'Large-format photography book, still in shrink wrap.', C.MEDIA, K.NEW, 'Taschen', 'black', "30", 'book'),
    _item('Building blocks set', 'About 500 pieces in the original box, some instructions missing.', C.TOYS, K.GOOD, 'LEGO', 'yellow', "40", 'blocks'),
    _item('Wooden blocks', 'Natural and painted wooden blocks, 60 pieces.', C.TOYS, K.GOOD, 'HABA', 'red', "15", 'blocks'),
    _item('Board game, sealed', 'Family strategy game, unopened.', C.TOYS, K.NEW, 'Kosmos', 'blue', "25", 'blocks'),
    _item('Puzzle 1000 pieces', 'Complete, counted twice. Box slightly dented.', C.TOYS, K.LIKE_NEW, 'Ravensburger', 'green', "8", 'blocks'),
    _item('Cordless drill', '18 V, two batteries and charger, in a case.', C.TOOLS, K.GOOD, 'Bosch', 'green', "75", 'drill'),
    _item('Impact driver', 'Brushless, one battery. Used on one renovation.', C.TOOLS, K.LIKE_NEW, 'Makita', 'blue', "110", 'drill'),
    _item('Hammer drill, faulty', 'Motor runs but the hammer function is dead. For repair.', C.TOOLS, K.FOR_PARTS, 'Einhell', 'red', "15", 'drill'),
    _item('Jigsaw', 'Variable speed, with a box of blades.', C.TOOLS, K.GOOD, 'Black+Decker', 'orange', "35", 'drill'),
    _item('Moving boxes, 10 pieces', 'Sturdy cardboard boxes, used once for a move.', C.OTHER, K.GOOD, '', 'brown', "10", 'box'),
    _item('Gift box set', 'Decorative storage boxes, set of three, new.', C.OTHER, K.NEW, '', 'pink', "12", 'box'),
    _item('Storage crate', 'Plastic storage crate with lid, 45 l, lid slightly warped.', C.OTHER, K.FAIR, '', 'grey', "6", 'box'),
    _item('Jewellery box', 'Small box with mirror and drawer, velvet lining.', C.OTHER, K.LIKE_NEW, '', 'purple', "14", 'box'),
]
# fmt: on
