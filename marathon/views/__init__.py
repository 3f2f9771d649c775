"""Views of `marathon.views.waterfall.Waterfall`: the terminal (`terminal`) and SVG/HTML (`svg`)."""
