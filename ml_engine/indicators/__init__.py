"""IndicatorService: the indicator catalogue and indicator values over stored bars."""
