"""Short, unambiguous lowercase words for generated names (valid DNS labels, easy to type in an exam)."""

WORDS: tuple[str, ...] = tuple(
    """
    acorn alder amber anchor aspen aster badger basalt beacon beaver birch bison bramble breeze brook cactus
    canyon cedar cobalt comet coral cougar crane cricket cypress dahlia delta dingo dolphin dune eagle ember falcon
    fennel fern finch fjord flint forest fox galaxy garnet gecko geyser ginger glacier granite gull harbor hazel
    heron hickory horizon husky ibis iris ivory jackal jade jasmine juniper kelp kestrel kiwi koala lagoon lark
    laurel lemur lilac linden lotus lynx magnet maple marble meadow merlin meteor mint moss nebula newt nickel
    oak ocelot olive onyx orchid osprey otter owl panda pebble pepper pike pine plover poplar prairie puffin quail
    quartz quill raven reef ridge robin rowan saffron sage salmon sequoia sparrow spruce summit swift tamarin
    thistle thrush tiger topaz tulip tundra valley violet walnut walrus willow wren yarrow zebra zephyr
    """.split()  # noqa: SIM905 - a word list reads better as text
)
