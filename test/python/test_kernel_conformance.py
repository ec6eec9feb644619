"""jupyter_kernel_test against the installed tfjs-estimator kernel, with a sample for every test."""
import unittest

import jupyter_kernel_test as jkt


class TfjsEstimatorKernelTests(jkt.KernelTests):
    kernel_name = "tfjs-estimator"
    language_name = "typescript"
    file_extension = ".ts"

    code_hello_world = "console.log('hello, world')"
    code_stderr = "console.error('oops')"

    completion_samples = [
        {"text": "Math.flo", "matches": {"floor"}},
        {"text": "tf.zer", "matches": {"zeros", "zerosLike"}},
        {"text": "ModeKeys.TR", "matches": {"TRAIN"}},
    ]
    complete_code_samples = ["1 + 1", "const x = 3;", "function f() { return 1; }"]
    incomplete_code_samples = ["function f() {", "const a = [1,", "if (true) {"]
    invalid_code_samples = ["const = 3;", "1 +* 2", "let let = ;"]

    code_page_something = "Math.floor?"

    code_generate_error = "throw new Error('boom')"

    code_execute_result = [
        {"code": "1 + 2", "result": "3"},
        {"code": "'a' + 'b'", "result": "'ab'"},
        {"code": "[1, 2].map((x) => x * 2)", "result": "[ 2, 4 ]"},
    ]

    code_display_data = [
        {"code": "display.html('<b>bold</b>');", "mime": "text/html"},
        {"code": "display.image(tf.zeros([4, 4]));", "mime": "image/png"},
    ]

    code_history_pattern = "1*2*"
    supported_history_operations = ("tail", "range", "search")

    code_inspect_sample = "Math.floor"

    code_clear_output = "display.clearOutput();"


if __name__ == "__main__":
    unittest.main()
