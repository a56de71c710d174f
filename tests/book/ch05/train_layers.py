# Chapter 5's loop: NumPy draws the batches, the layers compute, the update is in place.
import sys, os
sys.path.append(os.pardir)
import numpy as np
from dataset.mnist import load_mnist
from two_layer import TwoLayerNet

(x_train, t_train), (x_test, t_test) = load_mnist(normalize=True, one_hot_label=True)
np.random.seed(0)
network = TwoLayerNet(input_size=784, hidden_size=20, output_size=10, weight_init_std=0.1)
train_size = x_train.shape[0]
losses = []
for i in range(60):
    batch_mask = np.random.choice(train_size, 20)
    x_batch = x_train[batch_mask]
    t_batch = t_train[batch_mask]
    grad = network.gradient(x_batch, t_batch)
    for key in ('W1', 'b1', 'W2', 'b2'):
        network.params[key] -= 0.5 * grad[key]
    losses.append(float(network.loss(x_batch, t_batch)))
print("first loss", losses[0], "last loss", np.mean(losses[-10:]))
assert np.mean(losses[-10:]) < losses[0], "the network did not learn"
