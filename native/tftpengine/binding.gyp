{
  "targets": [
    {
      "target_name": "tftpengine",
      "sources": ["addon.c", "loop.c", "transfer.c"],
      "cflags": ["-Wall", "-Wextra", "-O2", "-pthread"],
      "ldflags": ["-pthread"]
    }
  ]
}
