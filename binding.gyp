{
  "targets": [
    {
      "target_name": "tfjs_estimator_native",
      "sources": [
        "src/backend/native/addon.cc",
        "src/backend/native/conv.cc",
        "src/backend/native/conv-direct.cc",
        "src/backend/native/conv-pool-chain.cc",
        "src/backend/native/pool.cc",
        "src/backend/native/norm.cc",
        "src/backend/native/elementwise.cc",
        "src/backend/native/matmul.cc",
        "src/backend/native/binary.cc"
      ],
      "actions": [
        {
          "action_name": "op_codes_header",
          "inputs": ["src/backend/native/op-codes.json", "scripts/native-op-codes.js"],
          "outputs": ["<(SHARED_INTERMEDIATE_DIR)/tfjs_estimator/op-codes.h"],
          "action": ["node", "scripts/native-op-codes.js", "src/backend/native/op-codes.json", "<(SHARED_INTERMEDIATE_DIR)/tfjs_estimator/op-codes.h"]
        }
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "<(SHARED_INTERMEDIATE_DIR)/tfjs_estimator"],
      "defines": ["NAPI_CPP_EXCEPTIONS", "NAPI_VERSION=8"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      # -ffp-contract=off: a relu mask recomputed from x in a gradient must agree bit for bit
      # with the relu of the forward pass (an FMA in one loop and not in the other would not).
      "cflags_cc": ["-O3", "-std=c++17", "-fexceptions", "-fopenmp", "-Wno-psabi", "-ffp-contract=off"],
      "ldflags": ["-fopenmp"],
      "libraries": ["-ldnnl"]
    }
  ]
}
