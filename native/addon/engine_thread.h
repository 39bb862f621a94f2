// Threading for the model binding: every call on one loaded model (and its sessions) runs on
// that model's own engine thread, in order — the engine requires one thread at a time per
// Model/Session, a CUDA context is happiest on one thread, and long calls (a 30 s generation)
// must not occupy libuv's small thread pool, which sharp and fs need. Results come back to
// JavaScript through a ThreadSafeFunction (JsChannel); nothing engine-side runs on the JS thread.
#pragma once
#include <napi.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

namespace kotaro_addon {

// A thread that runs posted tasks in order. Destroying it lets the queued tasks finish and
// then ends the thread; the destructor joins unless it runs on the thread itself (the last
// reference to a model may be dropped by a task), in which case the thread ends by itself.
class EngineThread {
 public:
  EngineThread() : shared_(std::make_shared<Shared>()) {
    std::shared_ptr<Shared> s = shared_;
    thread_ = std::thread([s] { run(*s); });
  }
  ~EngineThread() {
    {
      std::lock_guard<std::mutex> lock(shared_->mutex);
      shared_->stopping = true;
    }
    shared_->cv.notify_all();
    if (thread_.get_id() == std::this_thread::get_id()) thread_.detach();
    else if (thread_.joinable()) thread_.join();
  }
  EngineThread(const EngineThread&) = delete;
  EngineThread& operator=(const EngineThread&) = delete;

  void post(std::function<void()> task) {
    {
      std::lock_guard<std::mutex> lock(shared_->mutex);
      shared_->tasks.push_back(std::move(task));
    }
    shared_->cv.notify_one();
  }

 private:
  struct Shared {
    std::mutex mutex;
    std::condition_variable cv;
    std::deque<std::function<void()>> tasks;
    bool stopping = false;
  };
  static void run(Shared& s) {
    for (;;) {
      std::function<void()> task;
      {
        std::unique_lock<std::mutex> lock(s.mutex);
        s.cv.wait(lock, [&] { return s.stopping || !s.tasks.empty(); });
        if (s.tasks.empty()) return;  // stopping and drained
        task = std::move(s.tasks.front());
        s.tasks.pop_front();
      }
      task();  // tasks catch their own exceptions (see model_binding.cpp)
    }
  }
  std::shared_ptr<Shared> shared_;
  std::thread thread_;
};

// Runs closures on the JS thread from any thread, in the order posted. Wraps one
// ThreadSafeFunction for one asynchronous call (its progress/token callbacks and its final
// result); `finish` releases it, after which the event loop no longer waits for it.
class JsChannel {
 public:
  using Closure = std::function<void(Napi::Env, Napi::Function)>;

  // `callback` is the JS function the closures may call (progress, onToken); may be empty.
  JsChannel(Napi::Env env, Napi::Function callback, const char* name) {
    if (callback.IsEmpty() || callback.IsUndefined()) callback = Napi::Function::New(env, [](const Napi::CallbackInfo&) {});
    tsfn_ = Napi::ThreadSafeFunction::New(env, callback, name, 0, 1);
  }
  // Queues `f` to run on the JS thread. Closures must not throw (see safe()).
  void post(Closure f) const {
    auto* boxed = new Closure(std::move(f));
    napi_status status = tsfn_.NonBlockingCall(boxed, [](Napi::Env env, Napi::Function fn, Closure* c) {
      std::unique_ptr<Closure> owned(c);
      if (env != nullptr) (*owned)(env, fn);  // env is null when the environment is shutting down
    });
    if (status != napi_ok) delete boxed;
  }
  // The last post: releases the thread-safe function afterwards.
  void finish(Closure f) const {
    post(std::move(f));
    tsfn_.Release();
  }

 private:
  Napi::ThreadSafeFunction tsfn_;
};

}  // namespace kotaro_addon
