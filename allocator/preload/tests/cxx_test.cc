// cxx_test.cc: a C++ program whose output does not depend on the
// allocator: containers, strings, shared pointers, exceptions, every form
// of new/delete (array, nothrow, aligned, sized) and thread churn with
// objects handed between threads. Exit 1 on any wrong result.
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace {

int errors = 0;

void check(bool ok, const char *what) {
  if (!ok) {
    std::printf("FAIL: %s\n", what);
    errors++;
  }
}

struct alignas(64) Line {
  std::uint64_t v[8];
};

struct alignas(256) Page {
  char bytes[1000];
};

std::uint64_t mix(std::uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  return x;
}

// Each thread builds containers, and leaves strings in a shared vector
// that the next generation consumes (frees made by another thread).
std::mutex mu;
std::vector<std::unique_ptr<std::string>> handoff;

std::uint64_t work(unsigned id, unsigned gen) {
  std::uint64_t h = 0;
  std::map<int, std::string> m;
  std::unordered_map<std::string, std::vector<int>> um;
  for (int i = 0; i < 2000; i++) {
    std::uint64_t r = mix(id * 1000003ull + gen * 7919ull + i);
    m[int(r % 500)] = std::string(r % 90 + 1, char('a' + r % 26));
    um[std::to_string(r % 300)].push_back(int(r & 0xffff));
  }
  for (auto &kv : m) h += kv.first * 131u + kv.second.size();
  for (auto &kv : um) h += kv.second.size();
  auto sp = std::make_shared<std::vector<Line>>(37);
  check(reinterpret_cast<std::uintptr_t>(sp->data()) % 64 == 0, "vector<Line> alignment");
  std::vector<std::unique_ptr<std::string>> mine;
  {
    std::lock_guard<std::mutex> g(mu);
    for (auto &s : handoff) h += s->size();
    handoff.clear();  // freed here, allocated by an earlier thread
    for (int i = 0; i < 50; i++) handoff.push_back(std::make_unique<std::string>(100 + i, 'x'));
  }
  return h;
}

}  // namespace

int main() {
  // Plain, array, nothrow, sized and aligned forms.
  int *one = new int(42);
  check(*one == 42, "new int");
  delete one;
  char *arr = new char[3000];
  std::memset(arr, 7, 3000);
  delete[] arr;
  double *nt = new (std::nothrow) double[10];
  check(nt != nullptr, "nothrow new[]");
  delete[] nt;
  Line *ln = new Line;
  check(reinterpret_cast<std::uintptr_t>(ln) % 64 == 0, "aligned new 64");
  delete ln;
  Page *pg = new Page[3];
  check(reinterpret_cast<std::uintptr_t>(pg) % 256 == 0, "aligned new[] 256");
  delete[] pg;
  void *raw = ::operator new(100, std::align_val_t(4096));
  check(reinterpret_cast<std::uintptr_t>(raw) % 4096 == 0, "operator new align 4096");
  ::operator delete(raw, 100, std::align_val_t(4096));
  void *sized = ::operator new(24);
  ::operator delete(sized, 24);
  // A request no allocator can meet: bad_alloc, and NULL from nothrow.
  bool threw = false;
  try {
    volatile std::size_t huge = std::size_t(1) << 62;
    char *p = new char[huge];
    delete[] p;
  } catch (const std::bad_alloc &) {
    threw = true;
  }
  check(threw, "bad_alloc on a huge new[]");
  volatile std::size_t huge2 = std::size_t(1) << 62;
  check(::operator new(huge2, std::nothrow) == nullptr, "nothrow new of a huge size");
  // Exceptions allocate their objects through malloc.
  int caught = 0;
  for (int i = 0; i < 1000; i++) {
    try {
      throw std::runtime_error(std::string(i % 200 + 1, 'e'));
    } catch (const std::runtime_error &e) {
      caught += std::strlen(e.what()) > 0;
    }
  }
  check(caught == 1000, "exceptions");

  // Thread churn: 20 generations of 4 threads.
  std::uint64_t total = 0;
  std::atomic<std::uint64_t> acc{0};
  for (unsigned gen = 0; gen < 20; gen++) {
    std::vector<std::thread> ts;
    std::vector<std::uint64_t> res(4);
    for (unsigned id = 0; id < 4; id++)
      ts.emplace_back([&res, id, gen] { res[id] = work(id, gen); });
    for (auto &t : ts) t.join();
    for (auto r : res) total += r;
  }
  acc += total;
  handoff.clear();
  std::printf("cxx: total=%llu errors=%d\n", (unsigned long long)acc.load(), errors);
  return errors ? 1 : 0;
}
