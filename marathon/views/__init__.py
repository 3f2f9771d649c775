"""Views of `marathon.waterfall.Waterfall`: the terminal (`terminal`) and SVG/HTML (`svg`)."""
