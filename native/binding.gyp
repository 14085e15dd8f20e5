{
  # The native kernels (issue 10): one N-API module linked against OpenBLAS (Debian libopenblas-dev).
  # Built by native/build.js at `npm ci` / `npm install`; see native/README.md.
  "targets": [
    {
      "target_name": "r2ec_native",
      "sources": ["src/r2ec_native.cc"],
      "cflags_cc": [
        "-O3", "-std=c++17", "-mavx2", "-mfma", "-fno-math-errno", "-fno-trapping-math", "-fopenmp-simd",
        "<!@(pkg-config --cflags openblas 2>/dev/null || echo -I/usr/include/x86_64-linux-gnu)"
      ],
      "libraries": ["<!@(pkg-config --libs openblas 2>/dev/null || echo -lopenblas)"]
    }
  ]
}
