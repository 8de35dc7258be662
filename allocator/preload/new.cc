// new.cc: C++ operator new and delete, every replaceable form (plain,
// array, nothrow, sized, aligned), over libhakmem.so's malloc family.
//
// Invariants: new never returns NULL (it calls the new_handler until one
// succeeds, or throws std::bad_alloc when there is none); the nothrow
// forms return NULL instead; every delete goes to the same free, so sizes
// and alignments passed to delete are not needed (the registry knows).
#include <cstddef>
#include <new>

#include "preload.h"

#define HP_EXPORT __attribute__((visibility("default")))

namespace {

void *alloc_or_throw(std::size_t n, std::size_t align) {
  for (;;) {
    void *p = align ? hak_preload_memalign(align, n) : hak_preload_malloc(n);
    if (p) return p;
    std::new_handler h = std::get_new_handler();
    if (!h) throw std::bad_alloc();
    h();
  }
}

void *alloc_nothrow(std::size_t n, std::size_t align) noexcept {
  try {
    return alloc_or_throw(n, align);
  } catch (...) {
    return nullptr;
  }
}

}  // namespace

HP_EXPORT void *operator new(std::size_t n) { return alloc_or_throw(n, 0); }
HP_EXPORT void *operator new[](std::size_t n) { return alloc_or_throw(n, 0); }
HP_EXPORT void *operator new(std::size_t n, const std::nothrow_t &) noexcept {
  return alloc_nothrow(n, 0);
}
HP_EXPORT void *operator new[](std::size_t n, const std::nothrow_t &) noexcept {
  return alloc_nothrow(n, 0);
}
HP_EXPORT void *operator new(std::size_t n, std::align_val_t al) {
  return alloc_or_throw(n, static_cast<std::size_t>(al));
}
HP_EXPORT void *operator new[](std::size_t n, std::align_val_t al) {
  return alloc_or_throw(n, static_cast<std::size_t>(al));
}
HP_EXPORT void *operator new(std::size_t n, std::align_val_t al, const std::nothrow_t &) noexcept {
  return alloc_nothrow(n, static_cast<std::size_t>(al));
}
HP_EXPORT void *operator new[](std::size_t n, std::align_val_t al,
                               const std::nothrow_t &) noexcept {
  return alloc_nothrow(n, static_cast<std::size_t>(al));
}

HP_EXPORT void operator delete(void *p) noexcept { hak_preload_free(p); }
HP_EXPORT void operator delete[](void *p) noexcept { hak_preload_free(p); }
HP_EXPORT void operator delete(void *p, const std::nothrow_t &) noexcept { hak_preload_free(p); }
HP_EXPORT void operator delete[](void *p, const std::nothrow_t &) noexcept {
  hak_preload_free(p);
}
HP_EXPORT void operator delete(void *p, std::size_t) noexcept { hak_preload_free(p); }
HP_EXPORT void operator delete[](void *p, std::size_t) noexcept { hak_preload_free(p); }
HP_EXPORT void operator delete(void *p, std::align_val_t) noexcept { hak_preload_free(p); }
HP_EXPORT void operator delete[](void *p, std::align_val_t) noexcept { hak_preload_free(p); }
HP_EXPORT void operator delete(void *p, std::size_t, std::align_val_t) noexcept {
  hak_preload_free(p);
}
HP_EXPORT void operator delete[](void *p, std::size_t, std::align_val_t) noexcept {
  hak_preload_free(p);
}
HP_EXPORT void operator delete(void *p, std::align_val_t, const std::nothrow_t &) noexcept {
  hak_preload_free(p);
}
HP_EXPORT void operator delete[](void *p, std::align_val_t, const std::nothrow_t &) noexcept {
  hak_preload_free(p);
}
