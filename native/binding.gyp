{
  "targets": [
    {
      "target_name": "edge46",
      "sources": ["src/addon.c", "src/pump.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-std=gnu11", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "conditions": [["OS!='linux'", {"sources!": ["src/addon.c", "src/pump.c"]}]]
    }
  ]
}
