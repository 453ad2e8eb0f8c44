"""Rejected catalog snippets that no static rule reports, each with the reason.

Type-system cases belong to the TS2xx family (a type model: issue 6); call-time failures depend
on the values passed; some failures come from Python-side checks on live objects, which only the
verifier (issue 3) sees.
"""

from __future__ import annotations

TYPES = "needs the TS2xx type model (issue 6): the syntax alone does not decide it"
CALL_TIME = "fails only when called with particular values: the verifier's job, not a static rule"

UNCOVERED: dict[str, str] = {
    # -- type inference (TS2xx) --
    "unannotated_arg_is_tensor_call_time": TYPES,
    "forward_unannotated_called_with_int": (
        "`x * n` with `n` typed Tensor compiles; only a call that passes an int fails, and a "
        "caller may pass a tensor: nothing static decides it"
    ),
    "submodule_unused_with_bad_forward": TYPES,
    # -- call time --
    "return_annotation_tensor_as_int": CALL_TIME,
    "tensor_bool_ambiguous_call_time": CALL_TIME,
    "call_time_assert_optional_none": CALL_TIME,
    "call_time_list_index_out_of_range": CALL_TIME,
    "raise_custom_exception_class": "raising is allowed; the snippet fails because it raises",
    # -- no source: Python-side, before any compile --
    "lazy_module_uninitialized": "lazy modules are initialised by a forward call at run time",
    "dataclass_used_before_explicit_script": "depends on the order of scripting calls at run time",
    "closure_captured_int": "scripts a closure that make() returns at run time",
    "closure_captured_list": "scripts a closure that make() returns at run time",
}


# Reported, but at the cause rather than where the compiler points: name -> (code, line in the
# snippet, why the line differs).
REPORTED_ELSEWHERE: dict[str, tuple[str, int, str]] = {
    "module_attr_python_object_unscriptable": (
        "TS110",
        5,
        "the compiler blames `self.tok` in forward because compiling class Tokenizer failed; "
        "tscheck reports the comprehension `if` inside Tokenizer.encode that made it fail",
    ),
}
