"""A small ONNX graph builder: path-named nodes, named initializers, deterministic output.

Every node is named by its place in the model (``/model/layers.0/attn/qkv_proj/MatMulNBits``) and
its outputs by the node name plus ``/output_N``, so a graph viewer reads like the module tree.
"""
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

IR_VERSION = 10      # onnxruntime-web 1.30 refuses IR > 13; 10 pairs with opset 21
OPSET = 21
MS_DOMAIN = "com.microsoft"


class Graph:
    def __init__(self, name: str):
        self.name = name
        self.nodes, self.initializers, self.inputs, self.outputs = [], [], [], []
        self._names = set()

    def input(self, name, elem_type, shape):
        self.inputs.append(helper.make_tensor_value_info(name, elem_type, shape))
        return name

    def output(self, value, name, elem_type, shape):
        """Expose ``value`` under the graph output ``name`` (through Identity if renamed)."""
        if value != name:
            self.nodes.append(helper.make_node("Identity", [value], [name], name=f"/output/{name}"))
        self.outputs.append(helper.make_tensor_value_info(name, elem_type, shape))
        return name

    def init(self, name: str, array: np.ndarray) -> str:
        if name in self._names:
            raise ValueError(f"duplicate initializer {name}")
        self._names.add(name)
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def const_i64(self, name, values):
        return self.init(name, np.asarray(values, dtype=np.int64))

    def node(self, op, inputs, path, outputs=1, domain="", names=None, **attrs):
        """Add ``op`` named ``path/op``; returns its output name (or a list if outputs > 1).

        ``names`` overrides output names (a graph output produced directly by this node)."""
        node_name = f"{path}/{op}"
        if node_name in self._names:
            raise ValueError(f"duplicate node {node_name}")
        self._names.add(node_name)
        outs = [f"{node_name}/output_{i}" for i in range(outputs)]
        for i, name in enumerate(names or []):
            outs[i] = name or outs[i]
        self.nodes.append(helper.make_node(op, inputs, outs, name=node_name, domain=domain or None,
                                           **attrs))
        return outs[0] if outputs == 1 else outs

    def model(self, producer="llm-book-export") -> onnx.ModelProto:
        graph = helper.make_graph(self.nodes, self.name, self.inputs, self.outputs, self.initializers)
        model = helper.make_model(graph, producer_name=producer, ir_version=IR_VERSION,
                                  opset_imports=[helper.make_opsetid("", OPSET),
                                                 helper.make_opsetid(MS_DOMAIN, 1)])
        return model


FLOAT = TensorProto.FLOAT
INT64 = TensorProto.INT64
INT32 = TensorProto.INT32
