# The Trainer with a network of the chapter's own (as chapter 7's SimpleConvNet): the book's loop.
import sys, os
sys.path.append(os.pardir)
sys.path.append(os.path.join(os.pardir, "ch05"))
import numpy as np
from dataset.mnist import load_mnist
from common.trainer import Trainer
from two_layer import TwoLayerNet

(x_train, t_train), (x_test, t_test) = load_mnist(normalize=True)
network = TwoLayerNet(input_size=784, hidden_size=20, output_size=10, weight_init_std=0.1)
W1 = network.params['W1']
network.accuracy = lambda x, t: float(np.mean(np.argmax(np.asarray(network.predict(x)), axis=1) == np.asarray(t)))
trainer = Trainer(network, x_train, t_train, x_test, t_test, epochs=2, mini_batch_size=50,
                  optimizer='SGD', optimizer_param={'lr': 0.5}, verbose=True)
trainer.train()
assert network.params['W1'] is W1, "the update replaced the network's array"
print(len(trainer.train_acc_list), len(trainer.train_loss_list), trainer.test_acc_list[-1] > 0.5)
