"""The live view of a running gateway (`storegw top`, `storegw demo` on a terminal).

model.py holds what is known (pure state), describe.py puts events into short words,
render.py draws the model with rich, source.py feeds the model from the status socket and
screen.py runs it all on a terminal.
"""
