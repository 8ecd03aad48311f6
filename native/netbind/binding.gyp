{
  "targets": [
    {
      "target_name": "netbind",
      "sources": ["netbind.c"],
      "cflags": ["-Wall", "-Wextra", "-O2"]
    }
  ]
}
